"""Bulk issuance: a register (CSV or XLSX) becomes signed documents, each row exactly once.

A register is uploaded and checked (`registers.py`), approved by a second officer of the
agency, then issued by the worker in chunks (`issuing.py`). `workflow.py` holds the
batch's state machine; `merkle.py` the tree whose root the audit trail keeps.
"""
