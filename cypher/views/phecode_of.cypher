// purpose: PheCodes (1.2 and X) an ICD code maps to, through the curated MAPS_TO crosswalks
// parameters: code (string) - an ICD Code id such as 'ICD10CM:E11.9'; build (string, default '') - a synced build id (mash-kg builds), or '' for the active one (curated content: the same in every build)
// example: :param code => 'ICD10CM:E11.9'; :param build => ''
MATCH (c:Code {id: $code})-[m:MAPS_TO]->(p:Code)
WHERE p.vocab IN ['PHECODE', 'PHECODEX']
RETURN p.id AS id, p.name AS name, p.category AS category, m.source AS source
ORDER BY source, id;
