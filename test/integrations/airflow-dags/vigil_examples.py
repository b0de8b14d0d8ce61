"""The DAGs of test/integrations/real-tools.test.ts, named as in examples/: sales_refresh succeeds, ingest_orders fails."""

from datetime import datetime

from airflow.sdk import DAG, task

with DAG(dag_id="sales_refresh", start_date=datetime(2026, 1, 1), schedule=None, catchup=False, tags=["sales"]):

    @task
    def extract() -> int:
        return 3

    @task
    def load(rows: int) -> int:
        return rows

    load(extract())

with DAG(dag_id="ingest_orders", start_date=datetime(2026, 1, 1), schedule=None, catchup=False, tags=["orders"]):

    @task
    def fetch_orders() -> None:
        raise RuntimeError("orders file missing")

    fetch_orders()
