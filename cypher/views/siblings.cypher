// purpose: codes that share a curated parent with a code
// parameters: code (string) - a Code id such as 'ICD10CM:E11.9'; build (string, default '') - a synced build id (mash-kg builds), or '' for the active one (curated content: the same in every build)
// example: :param code => 'ICD10CM:E11.9'; :param build => ''
MATCH (c:Code {id: $code})-[:IS_A]->(p:Code)<-[:IS_A]-(s:Code)
WHERE s <> c
RETURN p.id AS parent, s.id AS id, s.name AS name
ORDER BY parent, id;
