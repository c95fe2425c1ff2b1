"""The engagement inbox: what people say to the workspace's accounts, read from each network, and worked.

- `models`: the sources read (a channel's inbox, a saved search), the items read from them, and what
  members do with an item (notes, labels, replies, likes and hides).
- `reading`: the periodic read of every due source, each within its network's read limits.
- `working`: listing, counting and changing items: states, assignment, labels, notes.
- `answering`: a reply as a post of its own, published as any delivery is; a like or a hide as an action
  performed once.
- `streams`: saved searches.
- `analytics`: response rate and time to first reply.
"""
