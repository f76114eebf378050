// purpose: PheCodes (1.2 and X) an ICD code maps to, through the curated MAPS_TO crosswalks
// parameters: code (string) - an ICD Code id such as 'ICD10CM:E11.9'
// example: :param code => 'ICD10CM:E11.9'
MATCH (c:Code {id: $code})-[m:MAPS_TO]->(p:Code)
WHERE p.vocab IN ['PHECODE', 'PHECODEX']
RETURN p.id AS id, p.name AS name, p.category AS category, m.source AS source
ORDER BY source, id;
