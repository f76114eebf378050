// purpose: number of codes below each chapter of a vocabulary's curated hierarchy
// parameters: vocab (string) - a vocabulary id such as 'ICD10CM'; build (string, default '') - a synced build id (mash-kg builds), or '' for the active one (curated content: the same in every build)
// example: :param vocab => 'ICD10CM'; :param build => ''
MATCH (ch:Code {vocab: $vocab, kind: 'chapter'})
OPTIONAL MATCH (d:Code)-[:IS_A*1..]->(ch)
RETURN ch.code AS chapter, ch.name AS name, count(d) AS codes
ORDER BY toInteger(ch.code), ch.code;
