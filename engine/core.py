"""`Engine`: the one door the API, the pages, the worker and the CLI use. One transaction per command."""

from __future__ import annotations

from engine.commands.access import AccessCommands
from engine.commands.administration import AdministrationCommands
from engine.commands.auditing import AuditCommands
from engine.commands.calendar import CalendarCommands
from engine.commands.copies import CopyCommands
from engine.commands.deploying import DeploymentCommands
from engine.commands.designing import DesignCommands
from engine.commands.directory import DirectoryQueries
from engine.commands.jobs import JobCommands
from engine.commands.messages import MessageCommands
from engine.commands.migrations import MigrationCommands
from engine.commands.procedure_records import ProcedureRecordCommands
from engine.commands.queries import Queries
from engine.commands.registries import RegistryCommands
from engine.commands.remarks import RemarkCommands
from engine.commands.statistics import StatisticsQueries
from engine.commands.stats import StatsQueries
from engine.commands.verifications import VerificationCommands
from engine.errors import DatabaseUnavailable
from engine.principal import Principal

__all__ = ["DatabaseUnavailable", "Engine", "Principal"]


class Engine(
    ProcedureRecordCommands,
    RegistryCommands,
    AccessCommands,
    CalendarCommands,
    AdministrationCommands,
    MigrationCommands,
    DesignCommands,
    DeploymentCommands,
    JobCommands,
    MessageCommands,
    CopyCommands,
    RemarkCommands,
    Queries,
    StatsQueries,
    DirectoryQueries,
    AuditCommands,
    VerificationCommands,
    StatisticsQueries,
):
    """Every command of the engine; see engine/commands/ for each group."""
