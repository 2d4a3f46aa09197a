"""Home realm discovery (HRD): which organization and connection a sign-in belongs to.

Every way of deciding is a *method*, a builtin plugin registered through the
``register_home_realm_methods`` hook, and a tenant tries them in its configured order
(:mod:`app.hrd.chain`). Methods of the ``request`` stage read what the application, host
or path already say (``organization`` and ``connection`` parameters, vanity hosts,
``/o/<name>/`` paths); methods of the ``identifier`` stage read what the user typed
(identifier map, email domain, ``home_realm_for_identifier`` plugins, account lookup).
When nothing decides, the user chooses on the organization picker.

Discovery only decides: each stage (:mod:`app.hrd.request_stage`,
:mod:`app.hrd.identifier_stage`) takes a typed context and returns a decision with its
trace; it never opens nor writes a login transaction. :mod:`app.login.discovery` records
the decisions in the sign-in's trace (``tx.hrd``), which the login events carry.
"""
