"""The watch engine, typed on the client members it uses (:mod:`aiospace.engine._client`): transitions
and the tracker, a Space's watch and the many-Space watcher with its schedule, waits and their
options, leases and notifications. Users reach it through :class:`~aiospace.SpaceClient`'s methods."""
