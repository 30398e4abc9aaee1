"""Request forms (R10-R12): their fields, their records under the department that received them,
and their printed form.
"""
