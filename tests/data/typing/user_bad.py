# Mistakes a type checker must catch in a user's script; each line that
# must be reported ends with "# error" (tests/test_typing.py).
import ipvs

svc = ipvs.Service(address="192.0.2.80", port="80")  # error
svc2 = ipvs.Service(adress="192.0.2.80")  # error
dest = ipvs.Destination(address="198.51.100.11", weigth=3)  # error
svc.port = 81  # error
total: str = svc.port  # error
ipvs.Client().add_service(dest)  # error
ipvs.Client().no_such_call()  # error
name: int = ipvs.DECODER  # error
