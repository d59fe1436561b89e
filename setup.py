"""The packages the wheel holds, and the migrations shipped inside it.

The migration scripts live in the top-level ``alembic/`` folder (beside ``alembic.ini``, where the
``alembic`` command and a checkout expect them), outside the package. A plain, non-editable install
still has to migrate, so the wheel carries the same folder as ``consent_service/_migrations``:
setuptools' ``package_dir`` maps that package name onto ``alembic/`` at build time, with no copy in
the repository to drift. ``pyproject.toml`` cannot say this itself, because its automatic package
discovery and an explicit mapping do not mix; everything else about the build is declared there.
``consent_service/cli/database.py`` looks for ``_migrations`` first and falls back to the checkout.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["consent_service*"]),
        "consent_service._migrations",
        "consent_service._migrations.versions",
    ],
    package_dir={"consent_service._migrations": "alembic"},
    package_data={"consent_service._migrations": ["script.py.mako"]},
)
