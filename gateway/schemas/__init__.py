"""One schema per resource: each module holds a resource's request models (body, query, path) and its response
model; gateway/schemas/base.py says how they are written and gateway/schemas/convert.py how answers and
request messages are derived from them."""
