// purpose: the codes of a phenotype at one site in one synced build, each with why: the rule (listed, descendant, mapped), the edges walked (curated IS_A, learned MASH_IS_A), their confidence (product of learned scores), and how the site has it (coded there, else aligned to a concept); one row per code, its strongest reason
// parameters: phenotype (string) - a Phenotype id; site (string) - a Site id; max_rank (integer, default 1, 1..100) - deepest ALIGNED_WITH rank followed; learned (string, default 'all') - 'all', 'accepted' or 'none'; build (string, default '') - a synced build id (mash-kg builds), or '' for the active one
// example: :param phenotype => 'type2_diabetes'; :param site => 'B'; :param max_rank => 1; :param learned => 'all'; :param build => ''
OPTIONAL MATCH (version:Build) WHERE version.seq IS NOT NULL AND (($build = '' AND version.active) OR version.id = $build)
WITH coalesce(max(version.seq), 0) AS v
CALL {
  OPTIONAL MATCH (d:Decision {decision: 'accept'})
  RETURN collect(d.key) AS accepted
}
MATCH (p:Phenotype {id: $phenotype})-[inc:INCLUDES]->(root:Code)
CALL {
  WITH inc, root, v, accepted
  MATCH path = (c:Code)-[:IS_A|MASH_IS_A*0..]->(root)
  WHERE (length(path) = 0 OR inc.descendants)
    AND all(r IN relationships(path) WHERE coalesce(r.valid_from, 0) <= v AND coalesce(r.valid_to, v + 1) > v
            AND (type(r) = 'IS_A' OR $learned = 'all'
                 OR ($learned = 'accepted' AND type(r) + '|' + startNode(r).id + '|' + endNode(r).id IN accepted)))
  RETURN c, CASE length(path) WHEN 0 THEN 'listed' ELSE 'descendant' END AS rule,
         [r IN relationships(path) | type(r)] AS edges,
         reduce(s = 1.0, r IN relationships(path) | s * coalesce(r.score, 1.0)) AS confidence
  UNION
  WITH inc, root
  MATCH (c:Code)-[:MAPS_TO]->(root)
  WHERE inc.mapped
  RETURN c, 'mapped' AS rule, ['MAPS_TO'] AS edges, 1.0 AS confidence
}
WITH v, accepted, collect({excluded: inc.excluded, root: root.id, c: c, rule: rule, edges: edges, confidence: confidence}) AS rows
WITH v, accepted, [r IN rows WHERE r.excluded | r.c.id] AS dropped, [r IN rows WHERE NOT r.excluded] AS kept
UNWIND kept AS r
WITH v, accepted, r, dropped WHERE NOT r.c.id IN dropped
CALL {
  WITH r, v
  WITH r, v, r.c AS listed
  WHERE EXISTS {
    MATCH (listed)-[:HAS_STATE]->(st:CodeState)
    WHERE st.valid_from <= v AND coalesce(st.valid_to, v + 1) > v AND $site IN st.sites
  }
  RETURN r.c AS code, 'coded at the site' AS how, null AS via, 1.0 AS match_score
  UNION
  WITH r, v, accepted
  MATCH (s:Code)-[a:ALIGNED_WITH]-(other:Code {id: r.c.id})
  WHERE coalesce(a.valid_from, 0) <= v AND coalesce(a.valid_to, v + 1) > v AND a.rank <= $max_rank
    AND ($learned = 'all'
         OR ($learned = 'accepted' AND 'ALIGNED_WITH|' + startNode(a).id + '|' + endNode(a).id IN accepted))
    AND EXISTS { MATCH (s)-[:HAS_STATE]->(st:CodeState)
                 WHERE st.valid_from <= v AND coalesce(st.valid_to, v + 1) > v AND $site IN st.sites }
    AND NOT EXISTS { MATCH (other)-[:HAS_STATE]->(st:CodeState)
                     WHERE st.valid_from <= v AND coalesce(st.valid_to, v + 1) > v AND $site IN st.sites }
  RETURN s AS code, 'aligned (rank ' + toString(a.rank) + ')' AS how, r.c.id AS via, a.score AS match_score
}
WITH code, r, how, via, match_score, dropped WHERE NOT code.id IN dropped
ORDER BY CASE WHEN via IS NULL THEN 0 ELSE 1 END, r.confidence * match_score DESC, size(r.edges)
WITH code, collect({r: r, how: how, via: via, match_score: match_score})[0] AS best
RETURN code.id AS code, code.name AS name, best.r.root AS concept, best.r.rule AS rule,
       best.r.edges AS edges, round(best.r.confidence, 4) AS confidence, best.how AS how,
       best.via AS via, round(best.match_score, 4) AS match_score
ORDER BY code;
