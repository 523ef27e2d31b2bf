"""The vim25 SOAP face (/sdk). Being written."""

from flask import Blueprint

soap_blueprint = Blueprint("soap", __name__)
