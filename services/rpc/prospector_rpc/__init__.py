"""gRPC plumbing shared by the Prospector services (each service owns its servicers).

The messages and services are defined once in protos/prospector.proto; the
Python code generated from it lives in ``prospector_rpc.gen`` (built by
``make setup``, never committed). Import it through ``prospector_rpc.pb``,
which says what to do when it has not been built.

    pb                  the generated modules (pb2, pb2_grpc) and service names
    server              serve_grpc() (thread pool) / serve_grpc_aio() (asyncio): servicers + health +
                        reflection, size limits, clean stop; SO_REUSEPORT only when asked (reuse_port)
    convert             message_from_dict(): plain dicts into messages
    auth                the operator token (PROSPECTOR_OPERATOR_TOKEN) of calls that change things

Prometheus plumbing is prospector_common.prometheus; TrainerServicer and
TrainerMetrics live in prospector_trainer, like the evaluator's and the API's own.
"""
