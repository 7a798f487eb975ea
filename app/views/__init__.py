"""The navigable views. Each is created on first show, so start-up builds only the first one.

The second GUI issue adds sub-views (experiment setup, run detail, compare) as screenshot targets in
`app/screenshot.py` and fills in the Experiments, Runs and Leaderboard views registered here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ViewSpec:
    name: str  # used by --view, QSettings and navigation
    title: str  # shown in the navigation list
    factory: str  # "module:Class"; the class takes (store, ctx)
    hint: str  # tooltip in the navigation list

    def load(self) -> type:
        module_name, _, class_name = self.factory.partition(":")
        return getattr(importlib.import_module(module_name), class_name)


NAV_VIEWS: tuple[ViewSpec, ...] = (
    ViewSpec("projects", "Projects", "app.views.projects_view:ProjectsView", "Projects and what is in them"),
    ViewSpec("datasets", "Datasets", "app.views.datasets_view:DatasetsView", "Drop files to build a dataset"),
    ViewSpec("experiments", "Experiments", "app.views.experiment_setup_view:ExperimentSetupView",
             "Set up and launch an experiment"),
    ViewSpec("runs", "Runs", "app.views.runs_view:RunsView", "Training runs, live charts, compare"),
    ViewSpec("leaderboard", "Leaderboard", "app.views.leaderboard_view:LeaderboardView", "Runs ranked by a metric"),
    ViewSpec("gpus", "GPUs", "app.views.gpus_view:GpusView", "Live GPU utilisation, memory, temperature"),
    ViewSpec("settings", "Settings", "app.views.settings_view:SettingsView", "Data home, token, theme, limits"),
)


def spec(name: str) -> ViewSpec:
    for view in NAV_VIEWS:
        if view.name == name:
            return view
    raise KeyError(name)
