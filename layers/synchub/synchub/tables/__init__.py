"""Lake tables: each (data source, interface) lands in an Apache Iceberg table in the Glue Data Catalog.

``naming`` and ``columns`` are pure; the modules that write or read tables load pyarrow and pyiceberg, which
only the functions that touch tables carry (the lake layer)."""
