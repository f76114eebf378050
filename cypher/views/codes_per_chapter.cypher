// purpose: number of codes below each chapter of a vocabulary's curated hierarchy
// parameters: vocab (string) - a vocabulary id such as 'ICD10CM'
// example: :param vocab => 'ICD10CM'
MATCH (ch:Code {vocab: $vocab, kind: 'chapter'})
OPTIONAL MATCH (d:Code)-[:IS_A*1..]->(ch)
RETURN ch.code AS chapter, ch.name AS name, count(d) AS codes
ORDER BY toInteger(ch.code), ch.code;
