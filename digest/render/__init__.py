"""Turning digests and matches into what people read: email (HTML + text), MIME messages, Atom/RSS.

Public modules: ``digest.render.email`` (:func:`render_email`), ``digest.render.message``
(:func:`build_message`), ``digest.render.feeds`` (:func:`render_feed`) and
``digest.render.feed_entries`` (what goes into each feed, shared by the CLI, exports and the web).
"""
