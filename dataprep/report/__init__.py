"""What a run did, in files a person reads: ``report.html``, the dataset card and the lock file,
and ``dataprep diff`` between two runs."""
