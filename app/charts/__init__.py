"""Live metric charts: growing buffers, the pyqtgraph chart widget, and the incremental metric feed."""
