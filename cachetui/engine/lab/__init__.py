"""The lab: injected faults, a simulated crash and an external writer, the workload
generator and the demo data."""
