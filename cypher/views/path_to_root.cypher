// purpose: the curated path from a code up to its root (a chapter, a top category), root last
// parameters: code (string) - a Code id such as 'ICD10CM:E11.9'; build (string, default '') - a synced build id (mash-kg builds), or '' for the active one (curated content: the same in every build)
// example: :param code => 'ICD10CM:E11.9'; :param build => ''
MATCH path = (c:Code {id: $code})-[:IS_A*0..100]->(root:Code)
WHERE NOT (root)-[:IS_A]->()
WITH path ORDER BY length(path) DESC LIMIT 1
UNWIND range(0, length(path)) AS step
WITH nodes(path)[step] AS n, step
RETURN step, n.id AS id, n.name AS name, n.kind AS kind
ORDER BY step;
