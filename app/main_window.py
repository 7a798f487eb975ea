"""The main window. The desktop-app issue replaces this minimal shell with the real views."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QVBoxLayout, QWidget

from spark_trainer.store import projects
from spark_trainer.store.store import Store


class MainWindow(QMainWindow):
    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.setWindowTitle("SparkTrainer")
        body = QWidget()
        layout = QVBoxLayout(body)
        names = [p.name for p in projects.list_all(store)]
        text = f"Data home: {store.home.root}\nProjects: {', '.join(names) if names else 'none yet'}"
        label = QLabel(text)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(label)
        self.setCentralWidget(body)
        self.statusBar().showMessage("Ready")
