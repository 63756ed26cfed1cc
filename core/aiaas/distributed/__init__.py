"""Training and batch scoring across machines on Ray (``aiaas train --ray``, ``aiaas predict --ray``).

The run is the out-of-core run (``aiaas.outofcore``) with its passes moved onto the cluster:

- ``passes``: each data file is read through the task's adapter by a Ray task on some node,
  which tallies its rows (split, samples, label counts, preprocessor summaries); the driver
  merges the tallies, in file order, so the samples and the split are those one machine finds.
- ``data``: the training rows as a Ray Data dataset, each file read and encoded by
  ``map_batches`` on the nodes; Ray Train streams it to the workers, each epoch again.
- ``fit``: torch models train data-parallel (DistributedDataParallel under Ray Train's
  ``TorchTrainer``), ``gbdt`` with LightGBM's data-parallel learner (``LightGBMTrainer``), with a
  checkpoint per epoch (per 50 rounds) in the run's folder and Ray Train's failure config.
- ``scoring``: ``aiaas predict --ray`` scores files in a Ray Data actor pool.

What comes back is a model like one trained on one machine: calibration, the floor, the input
checks, the report and the registry are the same code on the driver. Ray is imported only here.
"""
