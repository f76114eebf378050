// purpose: the lowest common ancestors of two codes in the curated hierarchy (a code counts as its own ancestor)
// parameters: a (string) - a Code id; b (string) - another Code id; build (string, default '') - a synced build id (mash-kg builds), or '' for the active one (curated content: the same in every build)
// example: :param a => 'ICD10CM:E11.9'; :param b => 'ICD10CM:E10.9'; :param build => ''
MATCH pa = (:Code {id: $a})-[:IS_A*0..]->(anc:Code)
MATCH pb = (:Code {id: $b})-[:IS_A*0..]->(anc)
WITH anc, min(length(pa)) + min(length(pb)) AS total, min(length(pa)) AS from_a, min(length(pb)) AS from_b
ORDER BY total
WITH collect({anc: anc, total: total, from_a: from_a, from_b: from_b}) AS found
UNWIND [f IN found WHERE f.total = found[0].total] AS f
RETURN f.anc.id AS id, f.anc.name AS name, f.from_a AS steps_from_a, f.from_b AS steps_from_b;
