"""What every network adapter is built from, so that a network's package holds only what is its own: its
endpoints, its text rules, the reading of its answers, its fake.

- `answers`: what an answer means. The one ladder from status and words to the NetworkError kinds, and,
  in its docstring, every rule of what "the network may have stored it" means for a retry; the reading
  of fields and the checks on what is kept (ids, addresses, handles).
- `calls`: sending a request through the outbound policy and bounds (shared.networks.outbound), a failure
  below HTTP as the error it means, and a network's `Dialect` for what the ladder cannot read alone.
- `settings`: a channel's options, and a server's address given as one.
- `parts`: a draft published and found again part by part, the post and then each reply; or in one
  request. Every adapter's publish and find_published come from its mixins.
- `counts`: posts' counts read in batches where a server offers it, else one at a time; an account's own.
- `media`: what a network would refuse in a draft's media, by its MediaRule.
- `write_only`: what a network that cannot read back what it posted answers.
- `api_errors`: a network's errors as the API's, for a person who asked the network something.
"""
