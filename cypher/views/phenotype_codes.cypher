// purpose: the codes of a phenotype at one site, each with why: the rule (listed, descendant, mapped), the edges walked (curated IS_A, learned MASH_IS_A), their confidence (product of learned scores), and how the site has it (coded there, else aligned to a concept); one row per code, its strongest reason
// parameters: phenotype (string) - a Phenotype id; site (string) - a Site id; max_rank (integer, default 1, 1..100) - deepest ALIGNED_WITH rank followed
// example: :param phenotype => 'type2_diabetes'; :param site => 'B'; :param max_rank => 1
MATCH (p:Phenotype {id: $phenotype})-[inc:INCLUDES]->(root:Code)
CALL {
  WITH inc, root
  MATCH path = (c:Code)-[:IS_A|MASH_IS_A*0..]->(root)
  WHERE length(path) = 0 OR inc.descendants
  RETURN c, CASE length(path) WHEN 0 THEN 'listed' ELSE 'descendant' END AS rule,
         [r IN relationships(path) | type(r)] AS edges,
         reduce(s = 1.0, r IN relationships(path) | s * coalesce(r.score, 1.0)) AS confidence
  UNION
  WITH inc, root
  MATCH (c:Code)-[:MAPS_TO]->(root)
  WHERE inc.mapped
  RETURN c, 'mapped' AS rule, ['MAPS_TO'] AS edges, 1.0 AS confidence
}
WITH collect({excluded: inc.excluded, root: root.id, c: c, rule: rule, edges: edges, confidence: confidence}) AS rows
WITH [r IN rows WHERE r.excluded | r.c.id] AS dropped, [r IN rows WHERE NOT r.excluded] AS kept
UNWIND kept AS r
WITH r, dropped WHERE NOT r.c.id IN dropped
CALL {
  WITH r
  WITH r WHERE $site IN coalesce(r.c.sites, [])
  RETURN r.c AS code, 'coded at the site' AS how, null AS via, 1.0 AS match_score
  UNION
  WITH r
  MATCH (s:Code)-[a:ALIGNED_WITH]-(other:Code {id: r.c.id})
  WHERE $site IN coalesce(s.sites, []) AND NOT $site IN coalesce(r.c.sites, []) AND a.rank <= $max_rank
  RETURN s AS code, 'aligned (rank ' + toString(a.rank) + ')' AS how, r.c.id AS via, a.score AS match_score
}
WITH code, r, how, via, match_score, dropped WHERE NOT code.id IN dropped
ORDER BY CASE WHEN via IS NULL THEN 0 ELSE 1 END, r.confidence * match_score DESC, size(r.edges)
WITH code, collect({r: r, how: how, via: via, match_score: match_score})[0] AS best
RETURN code.id AS code, code.name AS name, best.r.root AS concept, best.r.rule AS rule,
       best.r.edges AS edges, round(best.r.confidence, 4) AS confidence, best.how AS how,
       best.via AS via, round(best.match_score, 4) AS match_score
ORDER BY code;
