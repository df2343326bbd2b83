"""A run: catalog -> proposal -> gates -> write -> dbt build -> report."""
