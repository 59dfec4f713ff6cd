"""Performance benchmark: `clinsim bench perf [--quick] --json OUT`.

Every figure is a ratio or a distribution measured side by side in one run (the machines are shared and
noisy); none is a pass/fail test. One module per measurement: `harness_overhead`, `embedded_latency`,
`store_latency` (+ `store_child`, `vectors`, `chroma_server`), `ingest_throughput`, `prompt_tokens`
(+ `baseline_prompt`), `concurrency` (+ `scripted_server`), `memory`; `suite` runs them all and
`scripted` holds the scripted encounter they share.

JSON keys (times in seconds unless the key says `_ms`; a distribution is {n, p50, p95, mean, max}; a
section that failed or was skipped holds only {"error": ...} or {"skipped": ...}; each section has
`seconds`, the time it took):

- `version`, `mode` (full | quick | smoke), `started_at`, `seconds` (whole run), `notes` (list of str)
- `machine`: `nproc`, `cpu_model`, `ram_gb`, `load_avg_1m` (at the start), `load_avg_1m_end`, `python`, `platform`
- `targets`: list of {`name`, `target` (text), `measured` (number or null), `unit`, `met` (bool, or null when
  not measured), `note`}: the table the command prints
- `embedded`: the embedded llama.cpp model, doctor prompt of a first turn: `model`, `startup_s`, `calls`,
  `max_tokens`, `call_s` (distribution of per-call latency), `tokens_out_mean`
- `harness`: scripted episodes through the real harness, one at a time, models sleeping `delay_s` per call:
  `episodes`, `delay_s`, `turns_per_episode` (doctor turns), `calls_per_turn`, `overhead_ms_per_turn`
  (distribution over episodes of (wall - model time) / doctor turns), `run_overhead_ms_per_turn` (the whole
  run, record writing included), `cpu_ms_per_turn` (process CPU), `wall_s`, `model_s`, `embedded_call_s`
  (the embedded model's median call, or null), `share_of_encounter` (overhead / (overhead + calls per turn x
  embedded call), a fraction, or null)
- `store`: `dim` (the default embedder's), `k` (10), `queries`, `hnsw` (the store's settings, as measured),
  `persistent` and `server`: {kind (uniform | clustered): {size (str): {`insert_s`, `inserts_per_s`, `batch`,
  `open_s`, `first_query_ms`, `latency_ms` (distribution), `recall_at_10` (against exact numpy search),
  `filtered` ({`latency_ms`, `recall_at_10`} leaving the nearest case out the retriever's way: one unfiltered
  query, the case's own items dropped), `filtered_chroma_where` (the same with a Chroma `$ne` filter, the
  earlier way, measured beside it), `peak_rss_mb` (of
  the query process), `ef_search_sweep` (persistent only, when run: list of {`ef_search`, `latency_ms`,
  `recall_at_10`}), `index_alone` (the same queries without Chroma: `raw_hnsw` {`build_s`, `latency_ms`,
  `recall_at_10`} or {"skipped"}, `exact_numpy` {`latency_ms`}, `chroma_ids_only` {`latency_ms`}, and
  `store_over_raw_p95`)}}}
- `ingest`: `embedder`, `weights` (trained checkpoint, or the same architecture with random weights), and
  `bank` and `pneumoniamnist` (or {"skipped"}): {`source`, `images`, `records_added`, `seconds`, `cpu_s`,
  `images_per_s`, `images_per_cpu_s`, `model_s` (inside the embedder's model), `stages_s` ({stage: seconds})}
- `prompt_tokens`: `tokenizer`, `encounters`, `doctor_calls_per_encounter`, `ours_per_encounter`,
  `baseline_per_encounter` (AgentClinic-style: history block + full case every turn),
  `baseline_history_only_per_encounter`, `reduction` (1 - ours / baseline), `reduction_vs_history_only`,
  `ours_composition` (share of our doctor's prompt tokens: `system`, `own_actions`, `replies_and_results`)
- `concurrency`: `scripted_server` ({`latency_s`, `levels`, `first_level_again_calls_per_s`, `peak_in_flight`,
  `met`}) and `embedded_server` ({`turn_cap`, `levels`, `first_level_again_calls_per_s`, `note`} or
  {"skipped"}; its levels also name `servers`: shared C=1, per-role C=1, per-role with C lanes at each higher
  C, against shared C=1 run before and after); `levels`: list of {`concurrency`, `episodes`, `errors`, `calls`, `wall_s`, `calls_per_s`,
  `episodes_per_s`, `load_avg_1m` (when the level started), `speedup` (calls/s against the mean of the C=1
  run before and after the others), `efficiency` (speedup / C); the scripted server's levels also
  `processes`, `harness_cpu_ms_per_episode`, `peak_rss_mb` (the harness process's peak during the level; `peak_rss_of`
  says "the process so far" where the peak could not be reset) and, with worker processes, `worker_peak_rss_mb`}
- `speculative` (benchmark/perf/speculative.py; {"skipped"} without arms): `turn_cap`, `episodes` (per arm and
  round), `rounds`, `retrieval`, `temperature` ({doctor, patient}), `unavailable` ({arm: why not measured}),
  `note`, and `arms`: list of {`label` (MODE[:FIELD=VALUE...]), `mode`, `settings` (the embedded settings it
  changes), `model` (the name the server answered with, as records carry it), `encounter_s` (distribution over
  every round), `ratio_to_off` (its p50 / off's p50), `round_ratios` (per round, against that round's off),
  `errors`, `top1`, `by_role` (summed server-log figures per role, as `timings_by_role`, with `draft_tokens`,
  `draft_accepted`, `draft_acceptance` where a role drafted), `per_encounter_s` ({role: {prompt, generation}}),
  `draft_tokens`, `draft_accepted`, `draft_acceptance` (all roles), `server_peak_rss_mb`, `startup_s`,
  `behaviour` ({`compared`, `same_text`, `same_doctor`, `same_patient`, `same_differential`, `against`,
  `differences` (the first few: {case_id, trial, turn, role, off, arm, turns_off, turns_arm})}; the off arm is
  compared with off of round 1, the noise floor), `rounds` (each round's level row, as `concurrency`'s, with
  `round`, `startup_s`, `by_role`, `server_peak_rss_mb`)}
- `memory`: `episode_run` ({`episodes`, `rss_after_imports_mb`, `peak_rss_mb`}, a process of its own) and
  `store_query_process` ({`vectors`, `peak_rss_mb`}: the largest clustered persistent store's query process)
"""
