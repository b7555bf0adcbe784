META
key;value
description;"Budget; quartier nord"
num_projects;3
num_votes;3
budget;1000
vote_type;approval
PROJECTS
project_id;cost;votes;name;selected
1;400;2;Un banc;1
2;700;2;"Des ""arbres""";0
3;300;1;Une fontaine;1
VOTES
voter_id;vote
1;1,2
2;2,3
3;1
