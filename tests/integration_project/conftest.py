# This folder is a dbt project, not Python tests. After a dbt run here by hand,
# dbt_packages/gen_model links back to the repository root, and pytest would collect the
# whole suite again through that link (and again, and again).
collect_ignore = ["dbt_packages", "target", "logs"]
