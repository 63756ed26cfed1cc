"""The data plane: a task's data as a stream of Arrow record batches, read and split with
bounded memory, so the same plan runs on one machine out of core and across a Ray cluster.

- ``stream``: CSV and Parquet files, folders and globs of them as record batches and frames.
- ``chunks``: a task's data through its adapter's stream form, as bounded ``Dataset`` chunks.
- ``sample``: a bounded uniform sample that merges; ``spill``: encoded training rows on disk.
- ``split``: each row's split decided from the row alone (a keyed hash of its group or its
  content) or from a time cut found in a first pass, so the same rows land in the same split
  however the data is partitioned.
"""
