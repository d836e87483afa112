from flask import Blueprint

bp = Blueprint("definitions", __name__, template_folder="templates")
