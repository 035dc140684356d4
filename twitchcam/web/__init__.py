"""``twitchcam serve``: a local web app for clinic staff to upload (or record) face videos, follow their analysis,
read the reports and download the results.

- :mod:`twitchcam.web.sessions`: the data folder, one sub-folder per session, rebuilt at start.
- :mod:`twitchcam.web.workers`: the analysis queue, worker processes running :func:`twitchcam.pipeline.analyze`.
- :mod:`twitchcam.web.app`: the Starlette app, its pages and safety rules, and :func:`serve`.
- :mod:`twitchcam.web.guard`: the token every request must carry, and the security headers of every answer.

Patient video never leaves the machine: the server binds 127.0.0.1 by default, every page asset is served from
this package, and nothing is fetched from the network.
"""
