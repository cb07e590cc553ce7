"""The bare Textual app we compare our first frame against."""

from textual.app import App
from textual.widgets import Footer, Static


class Hello(App[None]):
    def compose(self):
        yield Static("Hello, on-call")
        yield Footer()


if __name__ == "__main__":
    Hello().run()
