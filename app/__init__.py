"""SparkTrainer Desktop GUI (PySide6 + pyqtgraph). Thin views over spark_trainer."""
