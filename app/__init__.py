"""SparkTrainer Desktop GUI (PySide6 + pyqtgraph). Thin views over spark_trainer."""

from app.pyside_imports import quiet_feature_check

quiet_feature_check()  # before any thread of the app imports: see app/pyside_imports.py
