META
key;value
description;Hand-made: the rules fund different projects (see node/tests/node.rs)
country;France
unit;Palabre test
instance;1
num_projects;3
num_votes;10
budget;100
vote_type;approval
rule;equal-shares
PROJECTS
project_id;cost;votes;name
A;60;6;"Aire de jeux"
B;40;4;"Bancs; ombre"
C;30;7;Composteurs
VOTES
voter_id;vote
v1;A,C
v2;A,C
v3;A,C
v4;A,C
v5;A,C
v6;A,C
v7;C,B
v8;B
v9;B
v10;B
