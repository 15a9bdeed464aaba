"""Subcontractors, by concern.

* ``register``: recording, changing and (when recorded by mistake) deleting subcontractors;
* ``schedule``: the audit cadence, when each one is next due, and the directory and dashboard
  figures built on the latest approval;
* ``chain``: the re-entrustment chain above and below a subcontractor.
"""
