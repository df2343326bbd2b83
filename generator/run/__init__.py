"""A run: catalog -> proposal -> gates -> write -> dbt build -> report.

options   what the user asked for (Options, Request) and what the lockfile records (LockContext)
guards    fail fast: taken names, an unbuilt warehouse, unrepairable problems; recovery
accept    the gates per proposal kind (CHECKS); what an accepted SQL proposal becomes
spec      the same for a `kind: enrich` proposal (AcceptedSpec)
finish    the one path of both: plan -> write -> dbt build -> gen_model.lock
apply     `gen-model apply`: a proposal from a file
generate  `gen-model "REQUEST"`: one LLM call, bounded repairs
replay    gen_model.lock's answer to the same request, with no LLM call
report    what a run did (RunReport)
"""
