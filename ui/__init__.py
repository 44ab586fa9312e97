"""The web chat (Gradio): ``python -m ui`` builds the index on first run and serves it.

>>> from ui import create_app, launch_app                       # doctest: +SKIP
>>> launch_app(create_app(Retriever.load("index")))             # doctest: +SKIP
"""

from .app import ask_json, create_app, example_questions, launch_app
from .feedback import FeedbackLog, default_feedback_path, feedback_record

__all__ = [
           "FeedbackLog",
           "ask_json",
           "create_app",
           "default_feedback_path",
           "example_questions",
           "feedback_record",
           "launch_app",
]
