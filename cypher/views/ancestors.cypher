// purpose: ancestors of a code in the curated hierarchy (IS_A), nearest first
// parameters: code (string) - a Code id such as 'ICD10CM:E11.9'
// example: :param code => 'ICD10CM:E11.9'
MATCH path = (c:Code {id: $code})-[:IS_A*1..]->(a:Code)
RETURN a.id AS id, a.name AS name, a.kind AS kind, length(path) AS distance
ORDER BY distance;
