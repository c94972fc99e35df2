"""Overload protection of the API server: max-in-flight limits, API Priority and Fairness, request
timeouts and the memory budget of LIST responses (docs/design/overload.md).

The pieces, each a small module: `config` (priority levels and flow schemas, upstream's suggested
defaults), `classifier` (which flow a request belongs to), `queueset` (fair queuing with shuffle
sharding and seats), `estimator` (how many seats a request takes), `maxinflight` (the limiter used
when priority and fairness is off), `budget` (bytes LIST responses may hold at once), `metrics`,
and `gate`, the one object the dispatcher calls.
"""
