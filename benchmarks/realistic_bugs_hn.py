"""Realistic bugs on a new domain: Hacker News posts and WHO air quality, first contact.

First contact (the first complete run, on main at 28d4568, 2026-12-05): 36 output-changing
bugs, unit test 86%, data tests 3%, contract 8%, all together 92% (33/36; target 95%); bare
unique + not_null 8%; false alarms 1 of 10 refactors; held-out mutation 17/19, 7/7, 1/5.
(An aborted run before it, on the same code, stopped at a bug that did not run: the air
quality share divided 0 by 0. The proposal now divides by nullif(count, 0), and the two bugs
that did not change the output were dropped; the first two marts scored the same there.)
The 3 misses and the false alarm, by cause (unit_fixtures.py and coverage.py are in
generator/testgen/):
- air_quality_regional 'coverage of exactly 75% not enough' (`pm25_coverage_pct >= 75` ->
  `> 75`): needs a row at exactly 75 (Vlore 2019 and Lukavac 2021, both Europe). Only dates
  get boundary rows (BOUNDARIES; coverage.threshold_classes is between two dates); nothing
  covers a numeric `column op literal`. Even gen-model's own boundary mutant (#19, not held
  out) survives: FixtureSearch.diff_seeds finds the differing output rows (Europe 2019, 2021)
  but seeds from the first 2 rows of those groups by gm_row (`order by gm_row limit 2`) and
  block() adds at most BLOCK_ROWS_PER_INPUT = 6 of the group's 44, never the row at 75. The
  `pm25 > 5` bugs were caught by a row at 5 (CAN 2020) that no class asked for. Fix:
  a class in coverage.py, rows where a compared column equals the literal, and the nearest
  just above and below; and diff_seeds seeding from rows the mutant's predicate and the
  original's disagree on, not the group's first rows.
- hn_weekly_kinds 'office hours up to 17:59' (`hour(timezone('America/New_York', ...))
  between 9 and 16` -> `between 9 and 17`): needs a post at 17:xx New York time (19 in the
  data, 21:xx UTC). The same gap for an expression of a column: a class should evaluate the
  compared expression (here hour of the local time) on the input and take rows at each bound
  and one past it (8, 9, 16, 17). The fixture's rows are at New York hours 8, 9, 12, 15, 16,
  18, 20 and 23, none at 17. (_temporal_columns marks posted_at, but BOUNDARIES only covers
  month and week edges.)
- hn_author_monthly 'active days in New York time' (`count(distinct cast(posted_at as
  date))` in UTC -> New York days): needs two posts of one author and month on either side
  of a UTC midnight within 5 hours of it (walterbell 07-11 22:17 and 07-12 02:30; thesecretceo
  07-12 14:28 and 07-13 03:45). The boundary rows (qzervaas 07-01 00:00, deverton 01-31 23:06,
  fortran77 02-01 04:04) are each alone in their group, so a time-zone shift of a day cast
  changes no count; the twin of ali_sen copies its time exactly. coverage.pair_classes only
  has the month version (`across`); add "two rows of one group on two days less than a day
  apart, the later in the first hours of its UTC day". Note _pairs also asks that `a` be the
  group's first row (`not exists ... z.d < a.d`), which rules out walterbell (group = author
  over all months). gen-model's own held-out time-zone mutants of that cast (#45 New York,
  #46 Tokyo) survive for the same reason: that is the 2 of 19 held out.
- FALSE ALARM air_quality_regional 'count a never-null column' (`count(*)` ->
  `count(cities.city)`): city is not_null upstream but not read by the SQL, so the unit test
  gives no city and dbt fills it with null; the refactor counts 0. A fixture that omits a
  not_null column is a fixture that could not happen. FixtureSearch.__init__ builds `read`
  from the columns the SQL reads plus the primary key; it should also take every not_null
  (and unique) column of the input, and constraint_violations skips absent columns (`if not
  present: continue`) where an absent not_null column is a violation. (The refactor 'active
  hours from the timestamps' passed only because the rows are real ones and the twin copies
  posted_at and posted_epoch together.)
Held-out 1/5 on air_quality_regional: the 4 distinct-add mutants (`count(distinct pm25)`,
`sum(distinct pm25 * population)`, `sum(distinct population)`) survive. stg_city_air_quality
has no single-column key (city-year is unique, untested), so twin_candidates falls back on
equal_value_candidates, which looks only inside exp.Sum and exp.Avg (count(x) is left out)
and needs two rows of one region-year with one population or one product (the data has
none). Also not a bug of this set: hn_weekly_kinds' precision mutant (#8, avg_score 2 -> 1
places) survives, as every group of the fixture has an integral average.
No gen-model error or crash. One observation: the first proposal's 0 / 0 wrote NaN into
pct_above_guideline of 3 region-years (described as "null without one"); no gate or derived
test flagged a NaN (or inf) in a double output column.

After fixes (branch h-hnfix, one commit each, 2026-12-05): unit test 94%, all together 100%
(36/36), false alarms 0 of 10, held-out mutation 19/19, 7/7, 1/5. Per step: a fixture gives
every not_null and unique column of its inputs (a row without one could not happen, and
constraint_violations now says so) 92%, 0 false alarms; rows at each number an expression of
one input is compared with and nearest under and over it (coverage.bound_classes), and a
comparison mutant seeded from the rows the two comparisons disagree on 97%; two rows of one
group on two days less than a day apart, the later in the first hours of its UTC day (not
necessarily the group's first; only for a column the SQL takes the day of itself) 100%,
held-out 19/19 on hn_author_monthly; count(x) read by equal_value_candidates. The rows at
compared numbers were first offered before the mutants (held-out 3/5 on
air_quality_regional then), but there a payment of 0 displaced the gift-card row the
held-out shop set needs (25/26): they are offered after the mutants now, and the
distinct-add mutants of air_quality_regional survive again (1/5). Giving not_null columns
cost the sample set (realistic_bugs.py) two catches it owed to nulls no warehouse could
hold (36/38: monthly_revenue_by_tier's invoices had no amount_paid or created_at, so
'paid before refunds' and 'month the invoice was created' changed the output only through
those nulls). A class of rows where a read column differs from the given-only columns of
its type brought back the first (37/38), but its row took the 20th invoice slot from the
twin that kills the held-out distinct-add mutants (test_mutate requires them): reverted.
Both want an invoice with a refund and one created in the month after its period starts,
within the 20-row budget. The other sets keep their scores (shop 35/35, held-out shop 26/26, nyc 42/42, 0 false
alarms each). This set is now seen: the fixes were made against these 36 bugs, so 100%
here is a tuned score; a first-contact figure needs another unseen project.

realistic_bugs_shop.py, realistic_bugs_shop_holdout.py and realistic_bugs_nyc.py were all
tuned against; issue 13 keeps "a hidden set of realistic bugs on projects you have not
seen". This is a fourth set on a domain nobody here wrote marts for before:
benchmarks/hn_project/ (sources on the hacker_news table of
../shared/corpora/duckdb-nsql/databases/hn/hn.duckdb and the ambient_air_quality table of
who/who.duckdb, two staging views with the data tests a team would write) is copied into a
temp dir with a copy of hn.duckdb into which who.duckdb's table is copied (the corpus files
are only read), built, `gen-model init`-ed, and given the marts of benchmarks/hn_proposals/
(posts per author and month, posts per ISO week and kind, PM2.5 per WHO region and year).
The bugs below are then scored with `realistic_bugs.run`, through realistic_bugs_shop's
`main`. The laptop database was too small for a mart (10 sales of 5 customers); the hn
sample holds no comments (993 stories, 7 job posts, no parent, dead or deleted item), so
comment-level bugs (id vs parent, self-join direction) cannot change its output and are
not in this set.

    python benchmarks/realistic_bugs_hn.py [--shared-dir DIR] [--keep DIR | --project-dir DIR]

Exits as realistic_bugs_shop.py does: 1 below 95% caught or on a false alarm, 2 when the
project cannot be prepared.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.realistic_bugs_shop import main, prepare_corpus_project  # noqa: E402 - importable once the repository is on the path

PROJECT = HERE / "hn_project"
PROPOSALS = HERE / "hn_proposals"
DATABASES = Path("corpora") / "duckdb-nsql" / "databases"
WAREHOUSE = DATABASES / "hn" / "hn.duckdb"
WHO = DATABASES / "who" / "who.duckdb"

# model -> [(class, description, old text, new text)], as in realistic_bugs.BUGS; the old
# texts are those of the SQL `gen-model apply` writes (date parts upper-cased, `not x is null`).
# The data: 993 stories and 7 job posts (no comments, polls, dead or deleted items) from
# 2022-01-01 to 2022-11-16 by 758 authors, 963 posts at 1 point (none at 10), 804 stories
# without a comment, job posts without a comment count, 4 posts in the first 5 hours of a
# month's 1st and 6 after 19:00 on its last day; 1000 WHO city-years from 2010 to 2021 in 6
# regions, PM2.5 null for 463 and exactly 5 for 64, PM2.5 coverage exactly 75 for 2, PM10
# null everywhere, population unknown ('NA') for 466, NO2 0 for 3 (null after staging).
HN_BUGS: dict[str, list[tuple[str, str, str, str]]] = {
    "hn_author_monthly": [
        ("value-set", "Launch HN posts not counted as launches",
         "posts.post_kind in ('show', 'launch')", "posts.post_kind = 'show'"),
        ("value-set", "anything but a plain link is a launch (job posts counted)",
         "posts.post_kind in ('show', 'launch')", "posts.post_kind <> 'link'"),
        ("null-zero", "a post at its initial 1 point counts as upvoted", "count(*) filter (where posts.score > 1)",
         "count(*) filter (where posts.score >= 1)"),
        ("time-zone", "months in San Francisco time (the first hours of a 1st go to the month before)",
         "date_trunc('MONTH', posts.posted_at)",
         "date_trunc('MONTH', timezone('America/Los_Angeles', cast(posts.posted_at as timestamptz)))"),
        ("time-zone", "months in Tokyo time (the last hours of a month go to the next)",
         "date_trunc('MONTH', posts.posted_at)",
         "date_trunc('MONTH', timezone('Asia/Tokyo', cast(posts.posted_at as timestamptz)))"),
        ("epoch-unit", "epoch read as milliseconds", "posts.posted_epoch)) / 3600, 1)",
         "posts.posted_epoch)) / 3600000, 1)"),
        ("integer-division", "active hours in integer division", "posts.posted_epoch)) / 3600, 1)",
         "posts.posted_epoch)) // 3600, 1)"),
        ("multiplicity", "active days counted per post", "count(distinct cast(posts.posted_at as date))",
         "count(cast(posts.posted_at as date))"),
        ("day-boundary", "active days in New York time", "count(distinct cast(posts.posted_at as date))",
         "count(distinct cast(timezone('America/New_York', cast(posts.posted_at as timestamptz)) as date))"),
        ("null-zero", "an author of job posts only gets null comments, not 0",
         "coalesce(sum(posts.comment_count), 0) as comments", "sum(posts.comment_count) as comments"),
        ("null-zero", "a post without a comment counts as discussed", "where posts.comment_count > 0",
         "where posts.comment_count >= 0"),
        ("wrong-column", "the top score is the most comments", "max(posts.score) as top_score",
         "max(posts.comment_count) as top_score"),
        ("refactor", "count the never-null key", "count(*) as posts", "count(posts.post_id) as posts"),
        ("refactor", "the complement of the value set (upstream accepted values)",
         "count(*) filter (where posts.post_type = 'story')",
         "count(*) filter (where not posts.post_type in ('comment', 'job', 'poll', 'pollopt'))"),
        ("refactor", "coalesce inside the sum (a group always has a row)",
         "coalesce(sum(posts.comment_count), 0) as comments", "sum(coalesce(posts.comment_count, 0)) as comments"),
        ("refactor", "active hours from the timestamps (staging derives them from the epoch)",
         "(max(posts.posted_epoch) - min(posts.posted_epoch)) / 3600",
         "date_diff('second', min(posts.posted_at), max(posts.posted_at)) / 3600"),
    ],
    "hn_weekly_kinds": [
        ("day-of-week", "weekend by dayofweek (Sunday is 0, so only Saturdays count)",
         "isodow(posts.posted_at) in (6, 7)", "dayofweek(posts.posted_at) in (6, 7)"),
        ("day-of-week", "weekend is Friday and Saturday", "isodow(posts.posted_at) in (6, 7)",
         "isodow(posts.posted_at) in (5, 6)"),
        ("week-boundary", "weeks start on Sunday", "cast(date_trunc('WEEK', posts.posted_at) as date)",
         "cast(date_trunc('WEEK', posts.posted_at + interval '1' day) - interval '1' day as date)"),
        ("time-zone", "weeks in New York time", "date_trunc('WEEK', posts.posted_at)",
         "date_trunc('WEEK', timezone('America/New_York', cast(posts.posted_at as timestamptz)))"),
        ("time-zone", "office hours in UTC",
         "hour(timezone('America/New_York', cast(posts.posted_at as timestamptz)))", "hour(posts.posted_at)"),
        ("time-zone", "office hours in the time zone the other way round",
         "hour(timezone('America/New_York', cast(posts.posted_at as timestamptz)))",
         "hour(cast(timezone('America/New_York', posts.posted_at) as timestamp))"),
        ("off-by-one", "office hours up to 17:59", "between 9 and 16", "between 9 and 17"),
        ("multiplicity", "authors counted per post", "count(distinct posts.author)", "count(posts.author)"),
        ("null-zero", "job posts counted as undiscussed", "where posts.comment_count = 0",
         "where coalesce(posts.comment_count, 0) = 0"),
        ("null-zero", "job posts get a median of 0 comments", "median(posts.comment_count)",
         "median(coalesce(posts.comment_count, 0))"),
        ("null-zero", "a post at its initial 1 point counts as upvoted", "count(*) filter (where posts.score > 1)",
         "count(*) filter (where posts.score >= 1)"),
        ("integer-division", "comments per point in integer division",
         "sum(posts.comment_count) / nullif(", "sum(posts.comment_count) // nullif("),
        ("precision", "comments per point rounded to 2 places", "nullif(sum(posts.score), 0), 3)",
         "nullif(sum(posts.score), 0), 2)"),
        ("refactor", "count the never-null key", "count(*) as posts", "count(posts.post_id) as posts"),
        ("refactor", "the weekend by dayofweek", "isodow(posts.posted_at) in (6, 7)",
         "dayofweek(posts.posted_at) in (0, 6)"),
        ("refactor", "office hours as a half-open range",
         "hour(timezone('America/New_York', cast(posts.posted_at as timestamptz))) between 9 and 16",
         "hour(timezone('America/New_York', cast(posts.posted_at as timestamptz))) >= 9"
         " and hour(timezone('America/New_York', cast(posts.posted_at as timestamptz))) < 17"),
    ],
    "air_quality_regional": [
        ("off-by-one", "cities at the guideline counted above it", "count(*) filter (where cities.pm25 > 5) as",
         "count(*) filter (where cities.pm25 >= 5) as"),
        ("value-set", "the 2005 guideline of 10", "count(*) filter (where cities.pm25 > 5) as",
         "count(*) filter (where cities.pm25 > 10) as"),
        ("null-zero", "the share over all cities, not those measuring PM2.5",
         "/ nullif(count(cities.pm25), 0), 1)", "/ count(*), 1)"),
        ("integer-division", "the share in integer division",
         "100.0 * count(*) filter (where cities.pm25 > 5) / nullif(",
         "100 * count(*) filter (where cities.pm25 > 5) // nullif("),
        ("multiplicity", "countries counted per city", "count(distinct cities.country_code)",
         "count(cities.country_code)"),
        ("null-zero", "the weights include cities without a PM2.5 mean",
         "sum(cities.population) filter (where not cities.pm25 is null)", "sum(cities.population)"),
        ("null-zero", "a missing PM2.5 mean averaged as 0", "round(avg(cities.pm25), 1)",
         "round(avg(coalesce(cities.pm25, 0)), 1)"),
        ("precision", "the mean rounded to whole units", "round(avg(cities.pm25), 1)", "round(avg(cities.pm25))"),
        ("off-by-one", "coverage of exactly 75% not enough", "cities.pm25_coverage_pct >= 75",
         "cities.pm25_coverage_pct > 75"),
        ("wrong-column", "the PM10 coverage", "cities.pm25_coverage_pct >= 75", "cities.pm10_coverage_pct >= 75"),
        ("wrong-column", "the highest NO2 is the highest PM2.5", "max(cities.no2) as max_no2",
         "max(cities.pm25) as max_no2"),
        ("refactor", "count non-null as a filter", "count(cities.pm25) as cities_with_pm25",
         "count(*) filter (where not cities.pm25 is null) as cities_with_pm25"),
        ("refactor", "count a never-null column", "count(*) as cities", "count(cities.city) as cities"),
        ("refactor", "the average as sum over count", "round(avg(cities.pm25), 1)",
         "round(sum(cities.pm25) / count(cities.pm25), 1)"),
    ],
}  # fmt: skip


def prepare(root: Path, shared_dir: Path, proposals: Path = PROPOSALS) -> Path:
    """Copy hn_project and the corpus' hn.duckdb into `root`, copy who.duckdb's
    ambient_air_quality table into that copy (the corpus files are only read), build it,
    `gen-model init` it and apply `proposals`; return the project directory.
    Raises RuntimeError when a warehouse is missing or the build fails."""
    tables = {"main.ambient_air_quality": "ambient_air_quality"}
    return prepare_corpus_project(root, PROJECT, shared_dir, WAREHOUSE, proposals, WHO, tables)


if __name__ == "__main__":
    sys.exit(main(bugs=HN_BUGS, proposals=PROPOSALS, preparer=prepare))
