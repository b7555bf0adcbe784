META
key;value
description;Hand-made: both rules fund both projects
budget;100
vote_type;approval
PROJECTS
project_id;cost
p;50
q;50
VOTES
voter_id;vote
1;p
2;p
3;q
4;q
