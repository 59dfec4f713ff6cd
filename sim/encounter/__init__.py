"""The encounter: a LangGraph graph of doctor, patient, measurement, retrieve and judge nodes."""
