// purpose: codes that share a curated parent with a code
// parameters: code (string) - a Code id such as 'ICD10CM:E11.9'
// example: :param code => 'ICD10CM:E11.9'
MATCH (c:Code {id: $code})-[:IS_A]->(p:Code)<-[:IS_A]-(s:Code)
WHERE s <> c
RETURN p.id AS parent, s.id AS id, s.name AS name
ORDER BY parent, id;
