"""The Space that examples/ci_deploy.py deploys: a one-box Gradio app."""

import gradio as gr


def greet(name: str) -> str:
    """Say hello."""
    return f"Hello {name}!"


gr.Interface(greet, "text", "text").launch()
