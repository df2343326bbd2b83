"""Writing into a project: model files, atomic transactions, the lockfile, versions, inert output."""
