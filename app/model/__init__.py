"""The GUI's one model of the store, in the style of napari's evented models.

`AppModel` holds a `RunsModel`, a `ProjectsModel`, a `DatasetsModel` and the `GpuMonitor`, all fed
by one `StorePoller`: the only timer that reads the store. Each of its ticks runs on a pool thread
(`reads.poll_once`: schedule queued runs, read runs changed since the last tick, metric rows after
the last id seen, the new bytes of followed logs, and the project and dataset lists when something
may have changed) and the models apply the result on the GUI thread, emitting typed signals. Views
connect to those signals and never query the store on the GUI thread themselves.
"""

from app.model.app_model import AppModel
from app.model.catalog import DatasetsModel, ProjectsModel
from app.model.runs_model import RunsModel

__all__ = ["AppModel", "DatasetsModel", "ProjectsModel", "RunsModel"]
