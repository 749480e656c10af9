"""Pipeline: the Faust app, topics, agents, sinks and the command line (the Kafka edge)."""
